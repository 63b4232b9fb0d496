"""mifidelity: Motivational Interviewing fidelity reports from recorded coaching sessions."""

__version__ = "0.1.0"
