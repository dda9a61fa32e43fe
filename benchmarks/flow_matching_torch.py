"""Reference run for bench_flow_matching: the training step of the neural
velocity (src/nn/velocity_network.hpp) written as one would in PyTorch on
one thread: the same MLP on (x, t) (depth hidden layers of width units,
SiLU, linear output, float64), the same mean squared error over a batch of
512 pairs, the same Adam (lr 1e-3), on the same fixed pairs for every step
(1-D points and targets of the Kac flow's scale). Prints the pairs trained
per second (best of 5 runs of 200 steps) for each width, to compare with the
C++ figures. Run with Debian's python3 (python3-torch)."""
import time

import torch

DIM, DEPTH, BATCH, STEPS = 1, 3, 512, 200


def network(width):
    layers, fan_in = [], DIM + 1
    for _ in range(DEPTH):
        layers += [torch.nn.Linear(fan_in, width, dtype=torch.float64), torch.nn.SiLU()]
        fan_in = width
    layers.append(torch.nn.Linear(fan_in, DIM, dtype=torch.float64))
    return torch.nn.Sequential(*layers)


def pairs():
    g = torch.Generator().manual_seed(1)
    x = 2 * torch.rand(BATCH, DIM, generator=g, dtype=torch.float64) - 1
    t = torch.rand(BATCH, 1, generator=g, dtype=torch.float64)
    y = 3 * torch.sin(3 * x) * (1 - t)
    return torch.cat([x, t], 1), y


def pairs_per_second(width):
    torch.manual_seed(0)
    net = network(width)
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    inputs, targets = pairs()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(STEPS):
            adam.zero_grad()
            loss = ((net(inputs) - targets) ** 2).sum() / BATCH
            loss.backward()
            adam.step()
        best = min(best, time.perf_counter() - start)
    return STEPS * BATCH / best, loss.item()


def main():
    torch.set_num_threads(1)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread, float64, batch {BATCH}, depth {DEPTH}")
    for width in (64, 256):
        rate, loss = pairs_per_second(width)
        print(f"width {width:4d}: {rate:12.4g} pairs/s  ({1e3 * BATCH / rate:.3f} ms per step, last loss {loss:.3e})")


if __name__ == "__main__":
    main()
