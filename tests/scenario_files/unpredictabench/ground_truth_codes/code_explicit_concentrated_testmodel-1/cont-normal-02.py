import random

# prints its progress first, then the list
print('drawing...')
N = 3  # the paper's programs may set N themselves
values = [random.gauss(1.0, 0.5) for _ in range(2000)]
print(values)
