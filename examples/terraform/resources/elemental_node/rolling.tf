# Rolling upgrade: each node waits for the previous one, so at most one
# node reboots at a time. (Or run `terraform apply -parallelism=1`.)
locals {
  image        = "registry.example.com/elemental/os:v2.3"
  ssh_key_file = pathexpand("~/.ssh/elemental")
}

resource "elemental_node" "a" {
  host  = "10.0.0.21"
  image = local.image
  ssh {
    private_key_file = local.ssh_key_file
    known_hosts_file = pathexpand("~/.ssh/known_hosts")
  }
}

resource "elemental_node" "b" {
  host       = "10.0.0.22"
  image      = local.image
  depends_on = [elemental_node.a]
  ssh {
    private_key_file = local.ssh_key_file
    known_hosts_file = pathexpand("~/.ssh/known_hosts")
  }
}

resource "elemental_node" "c" {
  host       = "10.0.0.23"
  image      = local.image
  depends_on = [elemental_node.b]
  ssh {
    private_key_file = local.ssh_key_file
    known_hosts_file = pathexpand("~/.ssh/known_hosts")
  }
}
