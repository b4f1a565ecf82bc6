"""Week 2 with a classifier class and a kNN class, like the lecture notes."""
import torch

from utils import log_softmax_rows, onehot


class LinearClassifier:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def scores(self, X):
        return torch.einsum("nd,dc->nc", X, self.W) + self.b


class NearestNeighbor:
    def __init__(self, k):
        self.k = k

    def train(self, X, y):
        self.X, self.y = X.double(), y

    def predict(self, X):
        d = torch.cdist(X.double(), self.X, compute_mode="donot_use_mm_for_euclid_dist") ** 2
        order = torch.sort(d, dim=1, stable=True).indices[:, :self.k]
        num_classes = int(self.y.max()) + 1
        return torch.stack([torch.bincount(self.y[row], minlength=num_classes).argmax() for row in order])


def linear_scores(X, W, b):
    return LinearClassifier(W, b).scores(X)


def softmax(scores):
    return log_softmax_rows(scores.double()).exp().to(scores.dtype)


def softmax_loss(scores, y):
    N, C = scores.shape
    lp = log_softmax_rows(scores.double())
    Y = onehot(y, C, torch.float64)
    loss = -(lp * Y).sum().item() / N
    return loss, ((lp.exp() - Y) / N).to(scores.dtype)


def knn_predict(X_train, y_train, X_test, k):
    model = NearestNeighbor(k)
    model.train(X_train, y_train)
    return model.predict(X_test)
