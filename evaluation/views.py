"""Pages of the evaluation loop: targets, feedback, improvement actions, timeline."""
