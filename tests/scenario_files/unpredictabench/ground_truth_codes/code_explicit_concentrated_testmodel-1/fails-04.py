import random

raise RuntimeError('this program is broken on purpose')
