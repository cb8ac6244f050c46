import random

res = []
for _ in range(1000):
    s = ['north', 'south', 'east', 'west']
    random.shuffle(s)
    res.append(s)
print(res)
