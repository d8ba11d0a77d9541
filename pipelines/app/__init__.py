"""The application's entry points besides the command line: the HTTP server every face mounts on, what
one console session may see, ``needle doctor``, and the links between faces.

May import the lab, the service and everything below; never ``cli`` or a face (faces plug in through the
``needle.faces`` entry points).
"""
