// Package version holds the plugin's version, set at release time with
// -ldflags "-X …/version.Version=… -X …/version.VersionPrerelease=".
package version

import "github.com/hashicorp/packer-plugin-sdk/version"

var (
	// Version is the main version number.
	Version = "0.1.0"
	// VersionPrerelease is "dev" for development builds, "" for releases.
	VersionPrerelease = "dev"
	// VersionMetadata is optional build metadata.
	VersionMetadata = ""
	// PluginVersion is what the plugin reports to Packer.
	PluginVersion = version.NewPluginVersion(Version, VersionPrerelease, VersionMetadata)
)
