// Package ami is the `elemental-aws` Packer builder: it publishes the disk
// of an Elemental derivative as an AMI with internal/publish/aws, then
// copies, shares, tags, deprecates and protects it. With the EBS direct
// APIs (the default) the installer core's blocks stream straight into the
// snapshot (diskbuild.StepPrepareDisk, then PublishSource), so no disk
// file is ever written; the S3 + ImportSnapshot method needs random access
// and builds the raw file first (diskbuild.StepBuildDisk). Its field names
// are packer-plugin-amazon's, so existing templates carry over.
package ami
