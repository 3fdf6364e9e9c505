"""Video input/output through ffmpeg: probing, normalised frame decoding, the chunked frame store, encoding."""
