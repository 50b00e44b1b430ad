"""Scripted stories for `followthrough demo`; each module has `story(world)`."""
