# One derivative, three outputs in one `packer build`: a qcow2 disk, an AMI
# and a GCE image, all pinned to the digest the data source resolved and
# named after the derivative's OS version.
packer {
  required_plugins {
    elemental = {
      source  = "github.com/elemental-suite/elemental"
      version = ">= 0.1.0"
    }
  }
}

variable "source_image" {
  type    = string
  default = "registry.example.com/elemental/derivative:latest"
}

variable "output_directory" {
  type    = string
  default = "output-all"
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "project_id" {
  type    = string
  default = "my-project"
}

variable "bucket" {
  type    = string
  default = "my-image-bucket"
}

variable "compute_endpoint" {
  type    = string
  default = ""
}

variable "skip_authentication" {
  type    = bool
  default = false
}

data "elemental-derivative" "os" {
  source_image = var.source_image
}

locals {
  image    = data.elemental-derivative.os.pinned_image
  version  = lower(replace(data.elemental-derivative.os.os_version, ".", "-"))
  basename = "elemental-${local.version}"
}

source "elemental" "disk" {
  source_image     = local.image
  formats          = ["qcow2"]
  output_directory = var.output_directory
  output_name      = local.basename
}

source "elemental-aws" "ami" {
  source_image = local.image
  region       = var.region
  ami_name     = local.basename
  tags = {
    Name = local.basename
  }
  # packer-plugin-amazon's block forms of tags and snapshot_tags: merged
  # into the maps, and generated from a collection with a dynamic block.
  tag {
    key   = "SourceDigest"
    value = data.elemental-derivative.os.digest
  }
  dynamic "snapshot_tag" {
    for_each = {
      OSVersion = data.elemental-derivative.os.os_version
      Builder   = "packer"
    }
    content {
      key   = snapshot_tag.key
      value = snapshot_tag.value
    }
  }
}

source "elemental-gcp" "image" {
  source_image        = local.image
  project_id          = var.project_id
  bucket              = var.bucket
  image_name          = local.basename
  compute_endpoint    = var.compute_endpoint
  skip_authentication = var.skip_authentication
}

build {
  sources = [
    "source.elemental.disk",
    "source.elemental-aws.ami",
    "source.elemental-gcp.image",
  ]
}
