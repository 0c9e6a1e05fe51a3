// Command packer-plugin-elemental is the Packer plugin of the Elemental
// image suite: the `elemental`, `elemental-aws` and `elemental-gcp`
// builders and the `elemental-derivative` data source.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/elemental-suite/elemental/internal/memlimit"
	"github.com/elemental-suite/elemental/packer-plugin/builder/ami"
	"github.com/elemental-suite/elemental/packer-plugin/builder/elemental"
	"github.com/elemental-suite/elemental/packer-plugin/builder/gce"
	"github.com/elemental-suite/elemental/packer-plugin/datasource/derivative"
	"github.com/elemental-suite/elemental/packer-plugin/version"
)

func main() {
	memlimit.Apply()
	pps := plugin.NewSet()
	pps.RegisterBuilder(plugin.DEFAULT_NAME, new(elemental.Builder))
	pps.RegisterBuilder("aws", new(ami.Builder))
	pps.RegisterBuilder("gcp", new(gce.Builder))
	pps.RegisterDatasource("derivative", new(derivative.Datasource))
	pps.SetVersion(version.PluginVersion)
	if err := pps.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
