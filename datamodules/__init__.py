"""LightningDataModules: one per system on top of the shared Zarr base."""
