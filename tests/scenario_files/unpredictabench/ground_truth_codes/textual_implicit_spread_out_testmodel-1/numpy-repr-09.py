# prints numpy scalar reprs as numpy >= 2 does
import random

print('[' + ', '.join(f'np.float64({random.random()!r})' for _ in range(800)) + ']')
