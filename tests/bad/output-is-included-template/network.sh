ip link set eth0 up
