# sidecar_add_plugin(<name> SOURCES <files...> [LIBRARIES <targets...>])
# Builds a plugin the way the host loads it: a MODULE named <name>.so, hidden visibility, and no
# undefined symbols (a missing library fails the link, not the load). Shared by the in-tree build
# and by SidecarSDKConfig.cmake for plugins built outside this tree.
function(sidecar_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${name}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(DEFINED SIDECAR_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${SIDECAR_PLUGIN_OUTPUT_DIR})
  endif()
  if(SIDECAR_INSTALL_PLUGINS)
    install(TARGETS ${name} LIBRARY DESTINATION lib/sidecar/plugins)
  endif()
  # Sanitizer runtimes are provided by the host executable.
  if(NOT SIDECAR_SANITIZE)
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
  endif()
  if(TARGET sidecar_sdk)
    target_link_libraries(${name} PRIVATE sidecar_sdk)
  else()
    target_link_libraries(${name} PRIVATE SidecarSDK::sdk)
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_LIBRARIES})
endfunction()
