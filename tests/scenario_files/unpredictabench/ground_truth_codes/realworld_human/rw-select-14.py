import random

res = []
for _ in range(1000):
    k = random.randint(0, 2)
    res.append('\n'.join(random.sample(['X', 'Y'], k)) if k else '(no output)')
print(res)
