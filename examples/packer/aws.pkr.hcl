# Publishes an Elemental derivative as an AMI through the EBS direct APIs,
# copied to a second region and tagged with its OS version.
#   packer build -var source_image=REF aws.pkr.hcl
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

variable "region" {
  type    = string
  default = "us-east-1"
}

source "elemental-aws" "ami" {
  source_image    = var.source_image
  region          = var.region
  ami_name        = "elemental-{{timestamp}}"
  ami_description = "Elemental OS built with Packer"
  ami_regions     = ["eu-west-1"]
  boot_mode       = "uefi"
  imds_support    = "v2.0"
  tags = {
    Name = "elemental"
  }
  snapshot_tags = {
    Name = "elemental"
  }
  disk_size = "8G"
}

build {
  sources = ["source.elemental-aws.ami"]

  post-processor "manifest" {}
}
