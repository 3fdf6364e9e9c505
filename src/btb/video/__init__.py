"""Video input/output through ffmpeg: probing, normalised frame decoding and indexing, frame chunks, encoding."""
