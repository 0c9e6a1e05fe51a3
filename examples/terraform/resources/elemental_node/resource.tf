resource "elemental_node" "worker" {
  host  = "10.0.0.21"
  image = elemental_image.os.source

  ssh {
    user           = "root"
    private_key_wo = file("~/.ssh/elemental") # write-only: never stored in state
    # Reads and on_destroy cannot see write-only values: give them a key file
    # (or use the agent or the provider's ssh block).
    private_key_file = pathexpand("~/.ssh/elemental")
    host_key         = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1FJWsyMZYfnGDn0sSbqUD+AHPyP2o5XBK2jPg+TTA"

    bastion {
      host     = "bastion.example.com"
      host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3b0FvI3o3lX9qUo4b7rQmGJm0yY6o0f0q0B1jX2k6y"
    }
  }

  upgrade_recovery = true

  # Change this value to reset the node through its recovery system.
  reset_trigger = "2026-01"

  on_destroy {
    reset = false
  }

  timeouts = {
    update = "45m"
  }
}
