# Tests of the micropython-unit firmware template (stdlib unittest).
