#pragma once
#include <catch2/catch.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <string>
#include <vector>
