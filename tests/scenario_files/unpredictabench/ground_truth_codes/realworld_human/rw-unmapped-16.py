import random

print([random.choice(['A', 'B']) for _ in range(1000)])
