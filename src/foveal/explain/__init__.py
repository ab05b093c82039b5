"""What a network looks at and what its layers see: Grad-CAM and integrated gradients (captum's), the first
layer's filters and each stage's feature maps, for any convolutional network. The tasks decide what to explain and
where the files go (tasks/classify/explain.py)."""
