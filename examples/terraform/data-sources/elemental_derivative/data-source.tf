data "elemental_derivative" "os" {
  source = "registry.example.com/elemental/os:v2.3"
}

output "os" {
  value = {
    digest     = data.elemental_derivative.os.digest
    generation = data.elemental_derivative.os.generation
    kernel     = data.elemental_derivative.os.kernel_version
    version    = data.elemental_derivative.os.os_release["VERSION"]
  }
}
