// Package diskbuild holds what the three Elemental builders share: the
// configuration that says which derivative to turn into which disk (source,
// registry credentials, generation, sizes, cloud-config, recovery), its
// mapping onto installer.Spec, the multistep steps that run the core (into
// files, or only prepared for a later step to stream), and the generated
// data a build exports to templates.
//
// It exists so that the disk, AWS and GCP builders map one set of field
// names the same way, and so that the defaults and validation stay in the
// core (installer.Spec.Validate): this package only translates names and
// units and reports the result.
package diskbuild
