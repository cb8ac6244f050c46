import numpy as np

out = []
for _ in range(10000):
    out.append(int(np.random.poisson(2.5)))
print(out)
