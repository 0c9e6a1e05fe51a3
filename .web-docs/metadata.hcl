# For full specification on the configuration of this file visit:
# https://github.com/hashicorp/integration-template#metadata-configuration
integration {
  name        = "Elemental"
  description = "Turn Elemental derivative images into disks, AMIs and GCE images."
  identifier  = "packer/elemental-suite/elemental"
  flags       = ["hcp-ready"]
  docs {
    process_docs = true
    readme_location = "./README.md"
    external_url = "https://github.com/elemental-suite/elemental"
  }
  license {
    type = "MPL-2.0"
    url = "https://github.com/elemental-suite/elemental/blob/main/LICENSE"
  }
  component {
    type = "builder"
    name = "Elemental"
    slug = "elemental"
  }
  component {
    type = "builder"
    name = "Elemental AWS"
    slug = "aws"
  }
  component {
    type = "builder"
    name = "Elemental GCP"
    slug = "gcp"
  }
  component {
    type = "data-source"
    name = "Elemental Derivative"
    slug = "derivative"
  }
}
