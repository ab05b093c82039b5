"""Segmentation data: semantic label images and instance masks (COCO polygons/RLE, YOLO-seg)."""
