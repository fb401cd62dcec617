"""Reference libraries: a trained embedder, its FAISS index over labelled images, and the novelty threshold."""
