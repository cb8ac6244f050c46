import random

pairs = []
for _ in range(1000):
    x = random.gauss(0, 1)
    pairs.append([x, x + random.gauss(0, 1)])
print(pairs)
