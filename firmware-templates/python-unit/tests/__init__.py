# Tests of the python-unit firmware template (stdlib unittest).
