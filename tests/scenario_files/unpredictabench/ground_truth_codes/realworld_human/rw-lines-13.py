import random

res = []
for _ in range(1000):
    w = ['Worker 1', 'Worker 2', 'Worker 3']
    random.shuffle(w)
    res.append('\n'.join(w))
print(res)
