import random

print([max(0.0, random.gauss(0.0, 1.0)) for _ in range(1500)])
