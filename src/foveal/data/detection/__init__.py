"""Object detection data: boxes in three file formats (YOLO, COCO, Pascal VOC), the shapes generator with boxes,
and the in-memory set the detection task trains on."""
