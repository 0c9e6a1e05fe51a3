# The build ID is the suffix of the artifact names (elemental-<id>.raw).
# The next apply adopts the existing disk files instead of building again,
# after checking that the configuration produces the same build ID.
terraform import elemental_image.os 3f2a9c1b7d4e
