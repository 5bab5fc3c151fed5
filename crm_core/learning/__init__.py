"""The learned win probability: a lead's features, training a versioned model from closed leads (scikit-learn,
only there), and scoring open leads with it.

- ``win_features``
- ``win_probability``
- ``win_training``
"""
