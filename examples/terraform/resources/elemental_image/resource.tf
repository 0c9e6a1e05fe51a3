# One image version: built once, kept as a local qcow2, published as an
# AMI in two regions and as a Compute Engine image.
resource "elemental_image" "os" {
  source    = "registry.example.com/elemental/os:v2.3"
  disk_size = "8GiB"

  cloud_config = [yamlencode({
    stages = {
      initramfs = [{ users = { admin = { groups = ["wheel"], ssh_authorized_keys = [file("~/.ssh/id_ed25519.pub")] } } }]
    }
  })]

  disk {
    directory = "${path.root}/disks"
    formats   = ["raw", "qcow2"]
  }

  aws {
    regions      = ["eu-central-1", "us-east-1"]
    name         = "elemental-os"
    tags         = { team = "platform" }
    imds_support = "v2.0"
  }

  gcp {
    bucket     = "my-image-uploads"
    image_name = "elemental-os"
    family     = "elemental-os"
  }

  timeouts = {
    create = "90m"
  }

  lifecycle {
    create_before_destroy = true
  }
}
