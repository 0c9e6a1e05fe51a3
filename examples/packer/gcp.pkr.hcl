# Publishes an Elemental derivative as a Compute Engine image through a
# Cloud Storage bucket.
#   packer build -var source_image=REF -var project_id=P -var bucket=B gcp.pkr.hcl
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

variable "project_id" {
  type    = string
  default = "my-project"
}

variable "bucket" {
  type    = string
  default = "my-image-bucket"
}

variable "image_name" {
  type    = string
  default = "elemental"
}

variable "compute_endpoint" {
  type        = string
  description = "Compute API endpoint; empty means Google's"
  default     = ""
}

variable "skip_authentication" {
  type    = bool
  default = false
}

source "elemental-gcp" "image" {
  source_image            = var.source_image
  project_id              = var.project_id
  bucket                  = var.bucket
  image_name              = var.image_name
  image_family            = "elemental"
  image_guest_os_features = ["UEFI_COMPATIBLE", "GVNIC"]
  image_labels = {
    built-by = "packer"
  }
  compute_endpoint    = var.compute_endpoint
  skip_authentication = var.skip_authentication
  disk_size           = "8G"
}

build {
  sources = ["source.elemental-gcp.image"]
}
