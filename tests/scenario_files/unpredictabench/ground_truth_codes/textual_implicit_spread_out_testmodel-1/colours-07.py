import random

print([random.choice(['red', 'green', 'blue']) for _ in range(1000)])
