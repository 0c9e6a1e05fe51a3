terraform {
  required_version = ">= 1.11" # write-only attributes
  required_providers {
    elemental = {
      source = "elemental-suite/elemental"
    }
  }
}

# Every setting is optional; the usual environment variables work too
# (ELEMENTAL_REGISTRY_USERNAME, AWS_PROFILE, GOOGLE_CLOUD_PROJECT, ...).
provider "elemental" {
  cache_dir = "${path.root}/.elemental-cache"

  registry {
    username = "robot"
    password = var.registry_token
  }

  aws {
    region  = "eu-central-1"
    profile = "images"
  }

  gcp {
    project = "my-images"
  }

  ssh {
    user             = "root"
    known_hosts_file = pathexpand("~/.ssh/known_hosts")
    agent            = true
  }
}

variable "registry_token" {
  type      = string
  sensitive = true
}
