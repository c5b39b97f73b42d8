"""The camera adapter: reads cameras, cuts segments without transcoding, uploads them."""
