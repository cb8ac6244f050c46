import random

print([random.choice([1, 2, 3]) for _ in range(1000)])
