import random

items = [8.5, 1.25, 3.0]
res = []
for _ in range(1000):
    s = items.copy()
    random.shuffle(s)
    res.append(s)
print(res)
