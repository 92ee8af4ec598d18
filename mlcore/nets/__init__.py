"""Networks (torch). Codecs and training live elsewhere; these only map tensors to tensors."""
