"""What operators run: `broker check-config`, `broker keys …`, `broker metadata …`, `broker clients …`.

Each command's logic lives in its own module here and returns an exit status; broker/cli.py only
parses arguments. Problems are reported as one line naming the file, the key and the problem.
"""
