"""Media adapters: ffmpeg and ffprobe, run as child processes."""
