# Keep N versions: one resource per tag. Removing a tag from the list
# deletes that version's disk, AMIs and image; adding one builds it.
variable "os_versions" {
  type    = list(string)
  default = ["v2.1", "v2.2", "v2.3"]
}

resource "elemental_image" "versions" {
  for_each = toset(var.os_versions)

  source = "registry.example.com/elemental/os:${each.key}"
  aws {
    regions = ["eu-central-1"]
    name    = "elemental-os-${replace(each.key, ".", "-")}"
  }
}

output "amis" {
  value = { for v, img in elemental_image.versions : v => img.aws_amis["eu-central-1"] }
}
