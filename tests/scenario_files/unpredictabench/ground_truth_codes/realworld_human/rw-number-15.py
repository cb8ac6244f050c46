import random

print([1 if random.random() < 0.3 else 2 for _ in range(1000)])
