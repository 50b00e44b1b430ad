DUE_JOBS: list = []
