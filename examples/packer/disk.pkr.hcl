# Builds qcow2 and raw disks of an Elemental derivative, named after the OS
# version the derivative's os-release declares.
#   packer init disk.pkr.hcl && packer build -var source_image=REF disk.pkr.hcl
packer {
  required_plugins {
    elemental = {
      source  = "github.com/elemental-suite/elemental"
      version = ">= 0.1.0"
    }
  }
}

variable "source_image" {
  type        = string
  description = "Derivative: registry reference, oci-layout:DIR[:TAG] or docker-archive:FILE"
  default     = "registry.example.com/elemental/derivative:latest"
}

variable "output_directory" {
  type    = string
  default = "output-disk"
}

data "elemental-derivative" "os" {
  source_image = var.source_image
}

source "elemental" "disk" {
  # Pin the build to the digest the data source resolved.
  source_image     = data.elemental-derivative.os.pinned_image
  formats          = ["qcow2", "raw"]
  disk_size        = "8G"
  output_directory = var.output_directory
  output_name      = "elemental-${data.elemental-derivative.os.os_version}"
  cloud_config     = <<-YAML
    stages:
      initramfs:
        - users:
            admin:
              groups: [wheel]
  YAML
  partition_sizes {
    oem = "64M"
  }
  recovery {
    squashfs_compression = "xz"
  }
}

build {
  sources = ["source.elemental.disk"]

  # Generated data is available to provisioners and post-processors.
  provisioner "shell-local" {
    inline = ["echo 'built ${build.SourceImageDigest} (toolkit ${build.Generation}, kernel ${build.KernelVersion})'"]
  }

  post-processor "manifest" {
    output = "${var.output_directory}/manifest.json"
  }
}
