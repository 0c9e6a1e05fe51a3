// Package ami is the `elemental-aws` Packer builder: it builds the raw disk
// of an Elemental derivative with the installer core and publishes it as an
// AMI with internal/publish/aws (EBS direct APIs, or S3 + ImportSnapshot),
// then copies, shares, tags, deprecates and protects it. Its field names
// are packer-plugin-amazon's, so existing templates carry over.
package ami
